"""Data: acquisition, file lists, the manifest, image and video reading, face crops, the format audit."""
