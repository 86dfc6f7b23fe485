"""Readers and writers: the edges of the pipeline, where files and pipes live."""
