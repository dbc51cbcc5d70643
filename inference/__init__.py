"""The models: DETR object detection, CLIP image and text embeddings, and the text model that
resolves free-text tags. Each loads once per process from a Hugging Face id or a local folder
(`loading`: one rule, one deadline, one clear "unavailable"), runs where `runtime` says, and is
pure: images or words in, labels or vectors out. The worker's stages and the gateway share them."""
