"""Survey's Celery tasks: the expiry of the personal-data files the survey is responsible
for. (Survey consumes no event: dispositions read message status from the messages table.)"""

from __future__ import annotations

from celery import shared_task

from shared.centre import applied
from shared.personal_files import BACKUPS, IMPORTS, expire


@shared_task(name="survey.expire_personal_files", ignore_result=True)
def expire_personal_files() -> int:
    """Beat job: delete rejected-rows files (`imports/`) and backups (`backups/`) under
    JEJAK_HOME last written more than JEJAK_PERSONAL_FILES_DAYS days ago; how many.

    Backups are the survey's to expire because erasure, which lists them, is the survey's.
    """
    settings = applied()  # the admin's retention days over the environment's (shared/centre.py)
    return sum(len(expire(settings.home / folder, settings.personal_files_days))
               for folder in (IMPORTS, BACKUPS))
