"""Take writers, one format per module, chosen by file extension through `registry`."""
