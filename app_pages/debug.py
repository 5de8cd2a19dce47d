"""Debug one prompt: generate, click an output segment, see the salience overlay, share."""

from lib.ui.debug import render_debug_page
from lib.ui.guard import guarded

guarded(render_debug_page)
