"""Features: FFT engines, the azimuthal spectrum, extraction of a manifest shard, perturbations."""
