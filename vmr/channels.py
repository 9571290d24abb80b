"""The channels a clip is described by: one name for each, used by every stage.

The dense channels each hold one vector per clip (from the text encoder, or a CLIP-family
model for frames); the lexical channel is BM25 over the text channels' documents, fused with
the dense scores at search time.
"""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    SPEECH = "speech"  # what is said: Whisper's sentences around the clip
    SLIDES = "slides"  # what is shown as text: OCR of the slide on screen
    PASSAGE = "passage"  # the clip's sentence with its neighbours, embedded as one text
    CHAPTER = "chapter"  # the clip's chapter (a topic): its speech and slide text as one text
    VISUAL = "visual"  # what is shown as a picture: the keyframe's image embedding
    LEXICAL = "lexical"  # exact words: BM25 over speech and slide documents (search only)


# The channels whose text is also indexed for BM25, in the order of the lexical fields.
# Passages and chapters are documents too: their spans are the moments of those sizes.
# (Which channels `vmr check` can make again from the catalogue: vmr.catalogue.repair.FROM_CATALOGUE.)
LEXICAL_CHANNELS = (Channel.SPEECH, Channel.SLIDES, Channel.PASSAGE, Channel.CHAPTER)
