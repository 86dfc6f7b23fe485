"""The pure numeric core: colour spaces, denoising, distinct colours, k-means, the
temporal quantizer, remapping and dithering, palette transfer, metrics. It knows nothing
of files, processes, progress bars or command lines."""
