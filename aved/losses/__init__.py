"""Loss terms of the edit, each a small pure function of tensors (DESIGN §2.6)."""

from aved.losses.dds import cfg_combine, dds_direction, dds_loss
from aved.losses.preservation import patch_nce, preservation_loss
from aved.losses.sync import self_similarity, sync_infonce, sync_loss

__all__ = [
    "cfg_combine",
    "dds_direction",
    "dds_loss",
    "patch_nce",
    "preservation_loss",
    "self_similarity",
    "sync_infonce",
    "sync_loss",
]
