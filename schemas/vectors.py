"""The vector collection: one point per image (its id is the image's UUID), named vectors,
and the payload fields that filters use, each indexed."""

from __future__ import annotations

from core.colors import PALETTE_DIM


def collection_vectors(clip_dim: int) -> dict[str, int]:
    """Named vectors and their sizes. A point may lack "clip" when no CLIP weights could be loaded."""
    return {
        # Coverage-weighted soft histogram of the four dominant colours (see core.colors).
        "palette": PALETTE_DIM,
        # CLIP image embedding; its size comes from the model (512 for ViT-B/32).
        "clip": clip_dim,
    }


# payload field -> index kind
PAYLOAD_INDEXES = {
    "orientation": "keyword",
    "make": "keyword",  # lower-cased
    "tags": "keyword",  # list of labels
    "width": "integer",
    "height": "integer",
    "year": "integer",
}
