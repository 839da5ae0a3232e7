"""Training the models: the CDAE and DRNN trainers and the CDAEs' output calibration."""
