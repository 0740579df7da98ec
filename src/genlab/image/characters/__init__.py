"""Game characters: Liberated Pixel Cup sprites composed from layers, a labelled dataset and an attribute classifier.

* :mod:`~genlab.image.characters.compose` — the compositor: an attribute set (sex, skin, hair, clothes,
  armour, weapon, hat) -> RGBA frames, standing frames or a whole 4×9 walk-cycle sheet;
* :mod:`~genlab.image.characters.data` — the dataset ``builtin:lpc-characters``: seeded attribute
  combinations, a ``test`` split of combinations held out of training, labels per attribute, and the
  attribution every derived model or page must carry;
* :mod:`~genlab.image.characters.classifier` — a small CNN with one head per attribute that scores
  generated characters (:func:`~genlab.image.characters.classifier.attribute_accuracy`);
* :mod:`~genlab.image.characters.task`, :mod:`~genlab.image.characters.models` (``character/cvae``, and
  ``character/layered``, the default: the CVAE with the layered decoder's recipe),
  :mod:`~genlab.image.characters.cgan` (``character/cgan``), :mod:`~genlab.image.characters.conditioning`
  (what both share), :mod:`~genlab.image.characters.pipelines` — the ``character`` task: attribute-conditioned
  generators and the ``character/draw`` pipeline (``genlab draw RUN --hair-style long …``).

The layers are not shipped: they are read from ``DATA_DIR/characters/``. Guide: docs/characters.md.
"""

from genlab.image.characters.cgan import CharacterCGAN, CharacterCGANConfig
from genlab.image.characters.classifier import (
    AttributeClassifier,
    AttributeClassifierConfig,
    AttributeTrainConfig,
    attribute_accuracy,
    load_attribute_classifier,
    train_attribute_classifier,
)
from genlab.image.characters.compose import (
    CharacterLayers,
    compose_frame,
    compose_sheet,
    compose_standing,
    render_preview,
)
from genlab.image.characters.data import (
    BACKGROUND_RGB,
    DATASET,
    HELD_OUT_HAIR_TORSO,
    HELD_OUT_HAT_HAIR_COLOR,
    CharacterDataConfig,
    CharacterSet,
    attribute_matrix,
    attribution,
    held_out_pairs,
    is_held_out,
    load_characters,
    sample_characters,
    visible_classes,
    visible_fraction,
)
from genlab.image.characters.models import (
    CharacterCVAE,
    CharacterCVAEConfig,
    CharacterLayeredCVAE,
    CharacterLayeredCVAEConfig,
)
from genlab.image.characters.pipelines import CharacterDrawPipeline
from genlab.image.characters.task import CharacterTask

__all__ = [
    "AttributeClassifier",
    "AttributeClassifierConfig",
    "AttributeTrainConfig",
    "BACKGROUND_RGB",
    "DATASET",
    "HELD_OUT_HAIR_TORSO",
    "HELD_OUT_HAT_HAIR_COLOR",
    "CharacterCGAN",
    "CharacterCGANConfig",
    "CharacterCVAE",
    "CharacterCVAEConfig",
    "CharacterLayeredCVAE",
    "CharacterLayeredCVAEConfig",
    "CharacterDataConfig",
    "CharacterDrawPipeline",
    "CharacterLayers",
    "CharacterSet",
    "CharacterTask",
    "attribute_accuracy",
    "attribute_matrix",
    "attribution",
    "compose_frame",
    "compose_sheet",
    "compose_standing",
    "held_out_pairs",
    "is_held_out",
    "load_attribute_classifier",
    "load_characters",
    "render_preview",
    "sample_characters",
    "train_attribute_classifier",
    "visible_classes",
    "visible_fraction",
]
