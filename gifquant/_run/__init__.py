"""A run: its settings, ``convert`` and its one pass, the size search, the staged
pipeline, batches (a process pool or Dask), frames in memory and their notebook display."""
