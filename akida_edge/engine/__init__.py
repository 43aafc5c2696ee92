"""The virtual AKD1000: layer descriptions, the model, reference and kernels, mapping, power."""
