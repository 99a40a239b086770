"""Fitting the calibration file the server loads: thresholds, confidence scale, blur, documents."""
