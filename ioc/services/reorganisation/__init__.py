"""Reorganising administrative units (issue 14): a plan of new units and the mapping from
the old ones, checked all at once (``change``), what follows the change subject by subject
(``followers``: the core's incidents, alerts and officials; the apps register devices,
gateways and citizen requests), applied in one transaction (``apply``), and the life of a
reorganisation from its dry run to its day (``lifecycle``). The files it reads: ``files``."""

from ioc.services.reorganisation.apply import SUBJECTS, change_apply, change_plan, change_report
from ioc.services.reorganisation.change import Change, Move, NewUnit, change_build
from ioc.services.reorganisation.files import (
    MAPPING_COLUMNS,
    MappingRow,
    ReorganisationError,
    effective_read,
    mapping_read,
    plan_read,
)
from ioc.services.reorganisation.followers import (
    Applying,
    Follower,
    follower_register,
    followers,
    moved_text,
    place_move,
    unit_move,
)
from ioc.services.reorganisation.lifecycle import (
    reorganisation_apply,
    reorganisation_cancel,
    reorganisation_check,
    reorganisation_confirm,
    reorganisation_draft,
    reorganisation_submit,
    reorganisations_apply_due,
)

__all__ = [
    "MAPPING_COLUMNS",
    "SUBJECTS",
    "Applying",
    "Change",
    "Follower",
    "MappingRow",
    "Move",
    "NewUnit",
    "ReorganisationError",
    "change_apply",
    "change_build",
    "change_plan",
    "change_report",
    "effective_read",
    "follower_register",
    "followers",
    "mapping_read",
    "moved_text",
    "place_move",
    "plan_read",
    "reorganisation_apply",
    "reorganisation_cancel",
    "reorganisation_check",
    "reorganisation_confirm",
    "reorganisation_draft",
    "reorganisation_submit",
    "reorganisations_apply_due",
    "unit_move",
]
