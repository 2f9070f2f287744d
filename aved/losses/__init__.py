"""Loss terms of the edit, small pure functions of tensors (docs/design.md §2.6, §2b); `objective` combines them."""

from aved.losses.dds import cfg_combine, dds_direction, dds_loss
from aved.losses.preservation import anchor_loss, patch_nce, preservation_loss
from aved.losses.sync import self_similarity, sync_infonce, sync_loss
from aved.losses.timing import latent_flux, timing_loss

__all__ = [
    "anchor_loss",
    "latent_flux",
    "timing_loss",
    "cfg_combine",
    "dds_direction",
    "dds_loss",
    "patch_nce",
    "preservation_loss",
    "self_similarity",
    "sync_infonce",
    "sync_loss",
]
