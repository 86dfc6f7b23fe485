"""GIF: the block walker, the scan before decoding, the writer, the LZW encoder
process, the block splicing that hides blocks from Pillow, and gifsicle's lossy step."""
