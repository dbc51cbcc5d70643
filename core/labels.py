"""The label vocabulary: the detector's labels and the open labels, importable without torch."""

from functools import cache
from pathlib import Path

OPEN_LABELS_FILE = Path(__file__).with_name("vocabulary") / "open_labels.txt"

# DETR's 91 COCO ids, "N/A" at the ids COCO never used; identical to facebook/detr-resnet-50's config.id2label.
COCO_LABELS: dict[int, str] = {
    0: "N/A",
    1: "person",
    2: "bicycle",
    3: "car",
    4: "motorcycle",
    5: "airplane",
    6: "bus",
    7: "train",
    8: "truck",
    9: "boat",
    10: "traffic light",
    11: "fire hydrant",
    12: "N/A",
    13: "stop sign",
    14: "parking meter",
    15: "bench",
    16: "bird",
    17: "cat",
    18: "dog",
    19: "horse",
    20: "sheep",
    21: "cow",
    22: "elephant",
    23: "bear",
    24: "zebra",
    25: "giraffe",
    26: "N/A",
    27: "backpack",
    28: "umbrella",
    29: "N/A",
    30: "N/A",
    31: "handbag",
    32: "tie",
    33: "suitcase",
    34: "frisbee",
    35: "skis",
    36: "snowboard",
    37: "sports ball",
    38: "kite",
    39: "baseball bat",
    40: "baseball glove",
    41: "skateboard",
    42: "surfboard",
    43: "tennis racket",
    44: "bottle",
    45: "N/A",
    46: "wine glass",
    47: "cup",
    48: "fork",
    49: "knife",
    50: "spoon",
    51: "bowl",
    52: "banana",
    53: "apple",
    54: "sandwich",
    55: "orange",
    56: "broccoli",
    57: "carrot",
    58: "hot dog",
    59: "pizza",
    60: "donut",
    61: "cake",
    62: "chair",
    63: "couch",
    64: "potted plant",
    65: "bed",
    66: "N/A",
    67: "dining table",
    68: "N/A",
    69: "N/A",
    70: "toilet",
    71: "N/A",
    72: "tv",
    73: "laptop",
    74: "mouse",
    75: "remote",
    76: "keyboard",
    77: "cell phone",
    78: "microwave",
    79: "oven",
    80: "toaster",
    81: "sink",
    82: "refrigerator",
    83: "N/A",
    84: "book",
    85: "clock",
    86: "vase",
    87: "scissors",
    88: "teddy bear",
    89: "hair drier",
    90: "toothbrush",
}


def detector_labels() -> list[str]:
    """The 80 labels DETR can give, in id order, without COCO's unused ids."""
    return list(dict.fromkeys(label for label in COCO_LABELS.values() if label != "N/A"))


@cache
def open_labels() -> tuple[str, ...]:
    """Scene and object words beyond COCO's, from `vocabulary/open_labels.txt`, in file order."""
    lines = (line.strip().lower() for line in OPEN_LABELS_FILE.read_text(encoding="utf-8").splitlines())
    return tuple(dict.fromkeys(line for line in lines if line and not line.startswith("#")))


@cache
def union_labels() -> tuple[str, ...]:
    """The detector's labels, then the open labels it lacks: what CLIP may call an image."""
    return tuple(dict.fromkeys([*detector_labels(), *open_labels()]))


def clip_vocabulary(keywords: list[str]) -> tuple[str, ...]:
    """What CLIP may call an image: `union_labels`, then ``keywords`` (the dataset's commonest)."""
    words = (k.strip().lower() for k in keywords if k and k.strip())
    return tuple(dict.fromkeys([*union_labels(), *words]))
