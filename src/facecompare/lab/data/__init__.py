"""Data for the lab: readers of the shared data sets, populations, synthetic cards and scenes."""
