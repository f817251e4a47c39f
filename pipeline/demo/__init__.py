"""`annex2 demo`: a scripted May 2023 in a fresh working folder, with sample files as units really make them."""
