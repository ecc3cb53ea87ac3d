"""FittingFooter: Textual's footer, leaving out the keys that do not fit whole.

Textual's ``Footer`` lays its keys out in one row and lets the row run on under the palette
key (it scrolls sideways with the mouse wheel): in a narrow terminal a key is cut mid-word
("^b Sideba", or "^o" with no label), which reads as a rendering fault. Here, after each
layout of the keys (the bindings changed, or the terminal's width did), a key that would not
fit whole beside the palette key is hidden, and the keys after it that still fit stay: the
first keys are the focused widget's, then the screen's, then the app's (Textual's order).
Every key is still listed in the command palette and the key table (palette: "Keys").
"""

from __future__ import annotations

from textual import events
from textual.widgets import Footer


RETRIES = 120
"""How many frames (1/60 s) a fit waits at most for the keys to be laid out."""


class FittingFooter(Footer):
    """A :class:`~textual.widgets.Footer` that shows only the keys it has room for, whole."""

    async def recompose(self) -> None:
        """Rebuild the keys (Textual does on every change of the bindings), then fit them."""
        await super().recompose()
        self.call_after_refresh(self.fit_keys)

    def on_resize(self, event: events.Resize) -> None:
        self._refit()

    def watch_compact(self) -> None:
        self._refit()  # the keys' widths change with the style, without a recompose

    def _refit(self) -> None:
        if not self.is_attached:
            return
        for child in self.children:
            child.display = True  # each key gets its width laid out again
        self.call_after_refresh(self.fit_keys)

    @property
    def fitted(self) -> bool:
        """Every key shown ends before the palette key (or the footer's end)."""
        keys = [child for child in self.children if not child.has_class("-command-palette") and child.display]
        palette = [child for child in self.children if child.has_class("-command-palette") and child.display]
        right = palette[0].region.x if palette else self.region.right
        return all(key.region.width and key.region.x + key.outer_size.width <= right for key in keys)

    def fit_keys(self, attempts: int = RETRIES) -> None:
        """Hide each key that would run past the palette key (or the footer's end); while the
        keys are not laid out yet, try again a frame later (up to `attempts` times)."""
        if not self.is_attached:
            return
        keys = [child for child in self.children if not child.has_class("-command-palette") and child.display]
        palette = [child for child in self.children if child.has_class("-command-palette") and child.display]
        if not self.region.width or any(not key.region.width for key in keys + palette):
            if attempts > 1:
                self.set_timer(1 / 60, lambda: self.fit_keys(attempts - 1))
            return
        right = palette[0].region.x if palette else self.region.right
        x = self.region.x
        for key in keys:
            fits = x + key.outer_size.width <= right  # its right margin may meet the palette key
            key.display = fits
            if fits:
                x += key.outer_size.width + key.styles.margin.width
