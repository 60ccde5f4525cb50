"""The model: config, backbone (image → logits), the CTC and decoder layers, and the heads."""
