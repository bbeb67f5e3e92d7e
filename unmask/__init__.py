"""unmask: spectral deepfake detection after Durall et al. (2019)."""

LABELS = {"real": 0, "fake": 1}  # label 1 = fake, 0 = real, everywhere
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")
