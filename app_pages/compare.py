"""Compare two or three prompt variants side by side on one colour scale."""

from lib.ui.compare import render_compare_page
from lib.ui.guard import guarded

guarded(render_compare_page)
