"""``facecompare bench``: our pipeline in-process and over HTTP against the peers, one run."""
