"""Who may play or download a recording.

The handling officer (the one who took the session), supervisors of the
case's service line, and admins. Recordings of sexual-violence cases are
narrower than the case itself: only the handling officer and supervisors of
that line, not admins. Uploading is for the handling officer alone.
"""

from __future__ import annotations

from cases.casework import SEXUAL_VIOLENCE
from cases.models import Case
from officers.models import Officer
from recordings.models import Recording


def is_handler(officer: Officer, recording: Recording) -> bool:
    return recording.officer_id is not None and recording.officer_id == officer.id


def may_play(officer: Officer, recording: Recording, case: Case) -> bool:
    if is_handler(officer, recording):
        return True
    line_supervisor = officer.role == "supervisor" and case.service_line in officer.lines
    if case.category == SEXUAL_VIOLENCE:
        return line_supervisor
    return line_supervisor or officer.role == "admin"
