"""Practice sheets for teaching: ``genlab exercises --topic arithmetic|fractions|equations|vocabulary --level 1-5``.

Each topic module draws items, measures their difficulty and re-checks their answers
(:mod:`.arithmetic`, :mod:`.fraction`, :mod:`.equations`, :mod:`.vocabulary`); :mod:`.sheet` keeps the items
that check and fit their level; :mod:`.render` writes the worksheet; :mod:`.pipeline` is the verb.
"""

from genlab.text.exercises import arithmetic, equations, fraction, vocabulary  # noqa: F401  (registers the topics)
from genlab.text.exercises.pipeline import ExercisesPipeline, ExercisesRequest, WorksheetOutput
from genlab.text.exercises.sheet import TOPICS, Exercise, Sheet, level_table, make_sheet

__all__ = [
    "TOPICS", "Exercise", "ExercisesPipeline", "ExercisesRequest", "Sheet", "WorksheetOutput", "level_table",
    "make_sheet",
]  # fmt: skip
