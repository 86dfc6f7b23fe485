"""Pictures of palettes and comparisons: the palette model and its files, swatches,
timelines and pixel plots, comparison panels and grids."""
