"""CompareModelsScreen: the palette's "Compare models…": tick the models the next message goes
to (the current provider's models, and the other providers and profiles that can be used, each
with its configured model), or type more as ``PROVIDER:MODEL``."""

from __future__ import annotations

from collections.abc import Sequence

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, SelectionList, Static
from textual.widgets.selection_list import Selection

from llmchat.safety import one_line


class CompareModelsScreen(ModalScreen[list[str] | None]):
    """Choose the models to compare; dismissed with their specs (``PROVIDER:MODEL`` or a model
    of the current provider), or None.

    Args:
        choices: (spec, label) pairs to tick, in order.
        chosen: specs ticked at the start (the pending comparison's).
    """

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="compare-models.cancel")]

    DEFAULT_CSS = """
    CompareModelsScreen {
        align: center middle;
    }
    CompareModelsScreen SelectionList {
        height: auto;
        max-height: 16;
        margin: 1 0;
    }
    """

    def __init__(self, choices: Sequence[tuple[str, str]], chosen: Sequence[str] = ()) -> None:
        super().__init__()
        self.choices = list(choices)
        self.chosen = list(chosen)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Compare models: the next message goes to each one ticked", classes="dialog-title",
                         markup=False)
            # Model ids may come from a server: shown made safe (the spec returned stays exact).
            yield SelectionList[str](
                *[Selection(one_line(label, 120), spec, spec in self.chosen) for spec, label in self.choices],
                id="compare-models-list",
            )
            listed = {spec for spec, _ in self.choices}
            yield Input(" ".join(spec for spec in self.chosen if spec not in listed),
                        placeholder="more: PROVIDER:MODEL or MODEL, separated by spaces", id="compare-models-more")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Compare", variant="primary", id="compare-models-ok")
                yield Button("Cancel", id="compare-models-cancel")
            yield Static("Space ticks a model · Enter in the text box or Compare applies · Escape cancels",
                         classes="dialog-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    def _specs(self) -> list[str]:
        ticked = list(self.query_one(SelectionList).selected)
        typed = self.query_one("#compare-models-more", Input).value.replace(",", " ").split()
        return ticked + [spec for spec in typed if spec not in ticked]

    @on(Button.Pressed, "#compare-models-ok")
    @on(Input.Submitted, "#compare-models-more")
    def _apply(self) -> None:
        self.dismiss(self._specs())

    @on(Button.Pressed, "#compare-models-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
