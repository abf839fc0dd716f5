"""What this computer has, and how each Gemma 4 model fits in its memory, as stacked bars."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from gemma_desktop.core.catalog import CatalogModel, ModelFile
from gemma_desktop.core.fit import (
    CONTEXT_STEPS,
    GIB,
    PREFERRED_CONTEXT,
    FitEstimate,
    Recommendation,
    estimate,
    largest_context,
)
from gemma_desktop.ui.flow_layout import FlowLayout
from gemma_desktop.ui.plain_label import plain_label
from gemma_desktop.ui.theme import DARK, LIGHT, Colors

GEMMA4_RUNGS = ("edge", "throughput", "logic")
# (key, legend label) in the order the segments are stacked.
SEGMENTS = (
    ("weights", "Model weights"),
    ("kv", "Context (KV cache)"),
    ("mmproj", "Vision projector"),
    ("compute", "Compute buffers"),
)
# The theme has one accent; the other segments need hues of their own that read in both looks.
_EXTRA_HUES = {
    False: {"kv": "#12a58f", "mmproj": "#8b5cf6", "compute": "#e39b1b"},
    True: {"kv": "#3cc6ad", "mmproj": "#a78bfa", "compute": "#e8b34a"},
}
NOTHING_FITS = (
    "None of the Gemma 4 models fits in this computer's free memory. "
    "The small starter model still works: it needs well under 1 GiB."
)
TIGHT_FIT = (
    "No Gemma 4 model fits with room to spare: those marked Fits may run but leave little "
    "memory for other programs. The small starter model still works."
)


@dataclass(frozen=True)
class RowData:
    """What one model's row shows."""

    model_id: str
    label: str  # "Gemma 4 E4B · Q4_K_M"
    name: str
    quant: str
    n_ctx: int
    estimate: FitEstimate
    recommended: bool
    reason: str = ""


def theme_colors(widget: QWidget) -> Colors:
    """The theme's colours for the look the widget's palette is in."""
    return DARK if widget.palette().color(QPalette.ColorRole.Window).lightness() < 128 else LIGHT


def segment_color(key: str, colors: Colors) -> QColor:
    """The fill of one bar segment."""
    if key == "weights":
        return QColor(colors.accent)
    return QColor(_EXTRA_HUES[colors.dark][key])


def _default_file(model: CatalogModel) -> ModelFile:
    # Approximate sizes are guesses for files nobody measured; never the one we show.
    return next((f for f in model.files if not f.approximate), model.files[0])


def _row_context(model: CatalogModel, file: ModelFile, hardware: Any) -> int:
    """The largest standard context at which the model fits with its vision projector."""
    best = largest_context(model, file, hardware)
    if best is None:
        return PREFERRED_CONTEXT
    # largest_context leaves the projector out; the bar includes it, so step down until it fits
    # rather than show a row that fails at the very context it was given.
    for n_ctx in sorted((s for s in CONTEXT_STEPS if s <= best), reverse=True):
        if estimate(model, file, n_ctx, with_mmproj=True, hardware=hardware).fits:
            return n_ctx
    return best


def build_rows_data(
    hardware: Any, models: Sequence[CatalogModel], recommendation: Recommendation | None
) -> list[RowData]:
    """One row per Gemma 4 model (starter skipped), in catalog order."""
    rows: list[RowData] = []
    for model in models:
        if model.rung not in GEMMA4_RUNGS:
            continue
        reason = ""
        if recommendation is not None and recommendation.model.id == model.id:
            file, n_ctx, reason = recommendation.file, recommendation.n_ctx, recommendation.reason
        else:
            file = _default_file(model)
            n_ctx = _row_context(model, file, hardware)
        fit = estimate(model, file, n_ctx, with_mmproj=True, hardware=hardware)
        rows.append(
            RowData(
                model_id=model.id, label=f"{model.name} · {file.quant}", name=model.name,
                quant=file.quant, n_ctx=fit.n_ctx, estimate=fit,
                recommended=recommendation is not None and recommendation.model.id == model.id,
                reason=reason,
            )
        )
    return rows


def gib(value: int) -> str:
    """Bytes as GiB with one decimal, without the unit: "21.2"."""
    return f"{value / GIB:.1f}"


def context_label(n_ctx: int) -> str:
    """'128K context' for the usual power-of-two sizes, else '3,000-token context'."""
    if n_ctx % 1024 == 0:
        return f"{n_ctx // 1024}K context"
    return f"{n_ctx:,}-token context"


def _segment_bytes(fit: FitEstimate) -> dict[str, int]:
    return {
        "weights": fit.weights_bytes, "kv": fit.kv_bytes, "mmproj": fit.mmproj_bytes,
        "compute": fit.overhead_bytes,
    }


def _paint_overflow(painter: QPainter, area: QRectF, colors: Colors) -> None:
    """Red with light stripes: what does not fit, readable without relying on colour alone."""
    painter.fillRect(area, QColor(colors.danger))
    painter.fillRect(area, QBrush(QColor(colors.danger_bg), Qt.BrushStyle.BDiagPattern))


class FitBar(QWidget):
    """A stacked bar of what a model needs, against the memory this computer can give it.

    The full width stands for `scale_bytes` (at least the budget and the total), so rows that
    share a scale line up; the budget is a vertical marker and anything past it is hatched red.
    Threading: GUI thread only; no signals.
    """

    BAR_HEIGHT = 12
    MARKER_OVERHANG = 4  # the budget marker reaches this far above and below the bar

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("FitBar")
        self._fit: FitEstimate | None = None
        self._scale = 0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(self.BAR_HEIGHT + 2 * self.MARKER_OVERHANG)
        self.setMinimumWidth(160)

    def set_estimate(self, fit: FitEstimate, scale_bytes: int = 0) -> None:
        """Show an estimate; `scale_bytes` is the size of the full width (shared across rows)."""
        self._fit = fit
        self._scale = scale_bytes
        self.setToolTip(self._tooltip())
        self.update()

    def estimate(self) -> FitEstimate | None:
        """The estimate shown, if any."""
        return self._fit

    def scale_bytes(self) -> int:
        """Bytes the full width stands for."""
        if self._fit is None:
            return 0
        return max(self._scale, self._fit.total_bytes, self._fit.budget_bytes or 0, 1)

    def segments(self, width: float | None = None) -> list[tuple[str, float, float]]:
        """(key, x, width) of each segment for a bar `width` pixels wide (the widget's own)."""
        if self._fit is None:
            return []
        width = float(self.width() if width is None else width)
        per_byte = width / self.scale_bytes()
        out: list[tuple[str, float, float]] = []
        x = 0.0
        for key, size in _segment_bytes(self._fit).items():
            out.append((key, x, size * per_byte))
            x += size * per_byte
        return out

    def budget_x(self, width: float | None = None) -> float | None:
        """Where the budget marker sits, or None without a budget."""
        if self._fit is None or self._fit.budget_bytes is None:
            return None
        width = float(self.width() if width is None else width)
        return self._fit.budget_bytes * width / self.scale_bytes()

    def overflow(self, width: float | None = None) -> tuple[float, float] | None:
        """(x, width) of the part of the bar past the budget, or None when it fits."""
        budget = self.budget_x(width)
        if budget is None or self._fit is None:
            return None
        width = float(self.width() if width is None else width)
        end = self._fit.total_bytes * width / self.scale_bytes()
        return (budget, end - budget) if end > budget else None

    def _tooltip(self) -> str:
        if self._fit is None:
            return ""
        sizes = _segment_bytes(self._fit)
        lines = [f"{label}: {gib(sizes[key])} GiB" for key, label in SEGMENTS if sizes[key]]
        lines.append(f"Total: {gib(self._fit.total_bytes)} GiB")
        if self._fit.budget_bytes is not None:
            lines.append(f"Available for models: {gib(self._fit.budget_bytes)} GiB")
        return "\n".join(lines)

    def paintEvent(self, _event: Any) -> None:
        colors = theme_colors(self)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        width = float(self.width())
        bar = QRectF(0.5, self.MARKER_OVERHANG + 0.5, width - 1.0, self.BAR_HEIGHT - 1.0)
        radius = bar.height() / 2
        shape = QPainterPath()
        shape.addRoundedRect(bar, radius, radius)
        painter.fillPath(shape, QColor(colors.surface_alt))

        painter.save()
        painter.setClipPath(shape)
        budget = self.budget_x(width)
        if budget is not None and budget < width:
            # Memory this computer does not have: a quiet hatch, so the empty part reads as absent
            # rather than free.
            painter.fillRect(
                QRectF(budget, bar.top(), width - budget, bar.height()),
                QBrush(QColor(colors.border), Qt.BrushStyle.BDiagPattern),
            )
        for key, x, w in self.segments(width):
            if w > 0:
                painter.fillRect(QRectF(x, bar.top(), w, bar.height()), segment_color(key, colors))
        # Thin gaps between segments keep neighbouring colours apart.
        painter.setPen(QPen(QColor(colors.surface), 1.5))
        for _key, x, w in self.segments(width)[1:]:
            if 0 < x < width and w > 0:
                painter.drawLine(QPointF(x, bar.top()), QPointF(x, bar.bottom()))
        over = self.overflow(width)
        if over is not None:
            _paint_overflow(painter, QRectF(over[0], bar.top(), over[1], bar.height()), colors)
        painter.restore()

        painter.setPen(QPen(QColor(colors.border), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(shape)
        if budget is not None and budget < width - 1:
            pen = QPen(QColor(colors.text), 2)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            painter.setPen(pen)
            x = max(1.0, budget)
            painter.drawLine(QPointF(x, 1.0), QPointF(x, self.height() - 1.0))
        painter.end()


class LegendSwatch(QWidget):
    """A small square in a segment's colour (or the overflow hatch, or the budget marker)."""

    def __init__(self, key: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.setFixedSize(12, 12)

    def paintEvent(self, _event: Any) -> None:
        colors = theme_colors(self)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        box = QRectF(0.5, 0.5, 11.0, 11.0)
        if self.key == "budget":
            pen = QPen(QColor(colors.text), 2)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            painter.setPen(pen)
            painter.drawLine(QPointF(6.0, 1.0), QPointF(6.0, 11.0))
        else:
            path = QPainterPath()
            path.addRoundedRect(box, 3, 3)
            if self.key == "overflow":
                painter.setClipPath(path)
                _paint_overflow(painter, box, colors)
            else:
                painter.fillPath(path, segment_color(self.key, colors))
        painter.end()


class FitRow(QFrame):
    """One model: name, quant and context, the fit bar and the numbers; the pick gets a reason.

    Threading: GUI thread only; no signals.
    """

    def __init__(self, data: RowData, scale_bytes: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("FitRow")
        self.data = data
        fit = data.estimate
        self.model_id = data.model_id
        self.fits = bool(fit.fits)
        self.recommended = data.recommended
        self.setProperty("recommended", "true" if data.recommended else "false")
        self.setProperty("fits", "true" if self.fits else "false")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(6)
        top = QHBoxLayout()
        top.setSpacing(8)
        top.addWidget(plain_label(data.name, "FitRowName"))
        self.detail = plain_label(f"{data.quant} · {context_label(data.n_ctx)}", "FitRowDetail")
        top.addWidget(self.detail)
        top.addStretch(1)
        if data.recommended:
            badge, kind = "Recommended", "recommended"
        elif fit.fits is False:
            badge, kind = "Does not fit", "nofit"
        else:
            badge, kind = "Fits", "fits"
        self.badge = plain_label(badge, "FitBadge")
        self.badge.setProperty("kind", kind)
        top.addWidget(self.badge)
        numbers = f"{gib(fit.total_bytes)} GiB"
        if fit.budget_bytes is not None:
            numbers = f"{gib(fit.total_bytes)} / {gib(fit.budget_bytes)} GiB"
        self.numbers = plain_label(numbers, "FitRowNumbers")
        top.addWidget(self.numbers)
        layout.addLayout(top)

        self.bar = FitBar(self)
        self.bar.set_estimate(fit, scale_bytes)
        layout.addWidget(self.bar)

        self.reason: QLabel | None = None
        self.notes: list[QLabel] = []
        if data.recommended:
            if data.reason:
                self.reason = plain_label(data.reason, "FitReason", wrap=True)
                layout.addWidget(self.reason)
            if fit.mmproj_bytes:
                # The recommendation's sentence leaves the projector out; the bar counts it.
                note = (
                    f"The bar also counts the {gib(fit.mmproj_bytes)} GiB vision projector "
                    f"that image input needs: {gib(fit.total_bytes)} GiB in all."
                )
                self.notes.append(plain_label(note, "FitNote", wrap=True))
                layout.addWidget(self.notes[-1])
            for note in fit.notes:
                self.notes.append(plain_label(note, "FitNote", wrap=True))
                layout.addWidget(self.notes[-1])
        elif fit.notes:
            self.setToolTip("\n".join(fit.notes))

        verdict = "does not fit" if fit.fits is False else "fits"
        if fit.budget_bytes is None:
            self.summary_text = (
                f"{data.label}, {context_label(data.n_ctx)}: needs about {numbers}"
            )
        else:
            self.summary_text = (
                f"{data.label}, {context_label(data.n_ctx)}: needs {gib(fit.total_bytes)} GiB "
                f"of {gib(fit.budget_bytes)} GiB available, {verdict}"
            )
        if data.recommended:
            self.summary_text += " (recommended)"
        self.setAccessibleName(data.name)
        self.setAccessibleDescription(self.summary_text)


def _machine_lines(hardware: Any) -> list[tuple[str, str]]:
    """(heading, value) lines of the summary at the top."""
    cores = f"{hardware.physical_cores} cores"
    if hardware.logical_cores and hardware.logical_cores != hardware.physical_cores:
        cores += f", {hardware.logical_cores} threads"
    cpu = f"{hardware.cpu_name or 'Unknown processor'} · {cores}"
    memory = f"{gib(hardware.total_ram)} GiB total · {gib(hardware.available_ram)} GiB available"
    if not hardware.gpus:
        gpu = "No GPU: models run on the CPU"
    else:
        parts = []
        for g in hardware.gpus:
            if g.unified:
                parts.append(f"{g.name} (shares system memory)")
            elif g.total_bytes:
                parts.append(f"{g.name} ({gib(g.total_bytes)} GiB)")
            else:
                parts.append(g.name)
        gpu = ", ".join(parts)
        if not hardware.gpu_offload:
            gpu += ": not used, models run on the CPU"
    disk = "Not known" if hardware.disk_free is None else f"{gib(hardware.disk_free)} GiB free"
    return [("Processor", cpu), ("Memory", memory), ("Graphics", gpu), ("Disk", disk)]


class HardwareView(QWidget):
    """This computer's processor, memory, GPUs and disk, and a fit bar per Gemma 4 model.

    Plain data in through `show_machine`; it never probes or loads anything itself (the caller
    probes on a worker thread). Threading: GUI thread only; no signals.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("HardwareView")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._content: QWidget | None = None
        self._rows: list[FitRow] = []
        self.nothing_fits: QLabel | None = None
        waiting = QWidget()
        column = QVBoxLayout(waiting)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(plain_label("Checking this computer…", "FitSectionHint"))
        column.addStretch(1)
        self._set_content(waiting)

    def rows(self) -> list[FitRow]:
        """The model rows, in catalog order."""
        return list(self._rows)

    def show_machine(
        self,
        hardware: Any,
        models: Sequence[CatalogModel],
        recommendation: Recommendation | None,
    ) -> None:
        """Show a probe's results and how each Gemma 4 model fits."""
        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(8)
        column.addWidget(plain_label("This computer", "HardwareTitle"))
        column.addWidget(self._summary(hardware))
        for note in hardware.notes:
            # The Graphics line already says there is no GPU; the probe's note would repeat it.
            if not hardware.gpus and note.lower().startswith("no gpu"):
                continue
            column.addWidget(plain_label(note, "HardwareNote", wrap=True))
        column.addSpacing(12)

        data = build_rows_data(hardware, models, recommendation)
        column.addWidget(plain_label("Gemma 4 models", "FitSectionTitle"))
        budget = next((r.estimate.budget_bytes for r in data if r.estimate.budget_bytes), None)
        # One scale for every row, so the budget line sits at the same place in each.
        scale = max(
            [max(r.estimate.total_bytes, r.estimate.budget_bytes or 0) for r in data] or [1]
        )
        overflows = budget is not None and scale > budget
        if budget is not None:
            where = "the vertical line" if overflows else "the full bar"
            hint = (
                f"Memory each model needs at the context shown, against the {gib(budget)} GiB "
                f"this computer can give it ({where})."
            )
            column.addWidget(plain_label(hint, "FitSectionHint", wrap=True))
        self._rows = [FitRow(row, scale) for row in data]
        for row in self._rows:
            column.addWidget(row)
        self.nothing_fits = None
        if data and recommendation is None:
            text = TIGHT_FIT if any(r.estimate.fits for r in data) else NOTHING_FITS
            self.nothing_fits = plain_label(text, "FitNothing", wrap=True)
            column.addWidget(self.nothing_fits)
        column.addLayout(self._legend(overflows))
        column.addStretch(1)
        self._set_content(content)

    def _summary(self, hardware: Any) -> QWidget:
        box = QWidget()
        box.setObjectName("HardwareSummary")
        grid = QGridLayout(box)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(16)
        grid.setVerticalSpacing(4)
        for line, (heading, value) in enumerate(_machine_lines(hardware)):
            grid.addWidget(plain_label(heading, "HardwareKey"), line, 0, Qt.AlignmentFlag.AlignTop)
            shown = plain_label(value, "HardwareValue", wrap=True)
            shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            grid.addWidget(shown, line, 1)
        grid.setColumnStretch(1, 1)
        return box

    def _legend(self, overflows: bool) -> FlowLayout:
        legend = FlowLayout(spacing=16)
        legend.setContentsMargins(2, 4, 0, 4)
        keys = list(SEGMENTS)
        if overflows:
            keys += [("overflow", "Over the limit"), ("budget", "Limit")]
        for key, text in keys:
            item = QWidget()
            line = QHBoxLayout(item)
            line.setContentsMargins(0, 0, 0, 0)
            line.setSpacing(6)
            line.addWidget(LegendSwatch(key), 0, Qt.AlignmentFlag.AlignVCenter)
            line.addWidget(plain_label(text, "FitLegendLabel"))
            legend.addWidget(item)
        return legend

    def _set_content(self, content: QWidget) -> None:
        if self._content is not None:
            self._layout.removeWidget(self._content)
            self._content.hide()  # deleteLater waits for the event loop; it must not linger
            self._content.deleteLater()
        self._content = content
        self._layout.addWidget(content)
