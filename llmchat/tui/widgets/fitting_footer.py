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
from textual.widget import Widget
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

    def _keys(self) -> tuple[list[Widget], Widget | None]:
        """The keys shown (left to right) and the palette key (None: not shown)."""
        keys = [child for child in self.children if not child.has_class("-command-palette") and child.display]
        palette = [child for child in self.children if child.has_class("-command-palette") and child.display]
        return keys, palette[0] if palette else None

    def _right(self, palette: Widget | None) -> int:
        """Where the keys must end: the palette key's left edge (it is docked at the right, so
        that is known from its width alone), or the footer's end."""
        if palette is None:
            return self.region.right
        return self.region.right - palette.outer_size.width - palette.styles.margin.width

    @property
    def fitted(self) -> bool:
        """Keys are shown, and each is laid out and ends before the palette key (or the
        footer's end). (While Textual rebuilds the keys, the old ones count as not shown.)"""
        keys, palette = self._keys()
        right = self._right(palette)
        return bool(self.region.width and keys) and all(
            key.region.width and key.region.x + key.outer_size.width <= right for key in keys
        )

    def fit_keys(self, attempts: int = RETRIES) -> None:
        """Hide each key that would run past the palette key (or the footer's end); while the
        keys are not laid out yet, try again a frame later (up to `attempts` times)."""
        if not self.is_attached:
            return
        keys, palette = self._keys()
        laid_out = [key.size.width for key in keys + ([palette] if palette else [])]
        if not self.region.width or not all(laid_out):
            if attempts > 1:
                self.set_timer(1 / 60, lambda: self.fit_keys(attempts - 1))
            return
        right = self._right(palette)
        x = self.region.x
        for key in keys:
            fits = x + key.outer_size.width <= right  # its right margin may meet the palette key
            key.display = fits
            if fits:
                x += key.outer_size.width + key.styles.margin.width
