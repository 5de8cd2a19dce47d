"""The runs this browser (or signed-in user) saved: open, rename, delete."""

from lib.ui.guard import guarded
from lib.ui.runs import render_runs_page

guarded(render_runs_page)
