"""The teaching views: case studies, convolution arithmetic, evaluation, saliency, health.

Numbers (no Panel, no Bokeh): casestudies, convarith, evaluation, health, saliency.
Figures (plain Bokeh) and HTML (tables, galleries), shared with the static build: figures, markup.
Views (Panel Viewers the dashboard mounts): explain_views (CaseStudyView,
ConvArithmeticView) and views (EvaluationView, SaliencyView, HealthView).
Importing this package does not import Panel; import the view modules for that.

The runner feeds two of them between training steps:
    monitor = HealthMonitor(every=10)          evaluation = RollingEvaluation(test_x, test_y, 10, names)
    monitor.before_step(net); event = trainer.step(); monitor.after_step(net, event["step"])
    evaluation.update(net, count=256, step=event["step"])    # every few steps, never a whole pass
"""

from .casestudies import CASE_STUDIES, case_table, check_claims, corrections, switch_layer, try_switch
from .convarith import conv_arithmetic, conv_layers
from .evaluation import RollingEvaluation, confusion_matrix, per_class_accuracy, top_k
from .health import HealthHistory, HealthMonitor, dead_relu_fractions, grad_norms, health, update_ratios
from .saliency import image_rgba, saliency_map, saliency_rgba

__all__ = [
    "CASE_STUDIES",
    "case_table",
    "check_claims",
    "corrections",
    "switch_layer",
    "try_switch",
    "conv_arithmetic",
    "conv_layers",
    "RollingEvaluation",
    "confusion_matrix",
    "per_class_accuracy",
    "top_k",
    "HealthHistory",
    "HealthMonitor",
    "dead_relu_fractions",
    "grad_norms",
    "health",
    "update_ratios",
    "image_rgba",
    "saliency_map",
    "saliency_rgba",
]
