"""Measuring the service: embeddings of data sets, pair scores, verification statistics, reports."""
