"""The teaching views: case studies, convolution arithmetic, evaluation, saliency, health.

Their numbers and HTML live in the core (no Panel, no Bokeh): app/core/casestudies.py,
convarith.py, evaluation.py, health.py, saliency.py and teaching_fragments.py. Here:
    teaching_plots   their Bokeh figures (plain functions)
    explain_views    Panel Viewers that explain the numbers: CaseStudyView, ConvArithmeticView
    live_views       Panel Viewers of the live run: EvaluationView, SaliencyView, HealthView
Importing this package imports nothing; the dashboard imports the view modules.

The runner feeds two of the core's modules between training steps:
    monitor = HealthMonitor(every=10)          evaluation = RollingEvaluation(test_x, test_y, 10, names)
    monitor.before_step(net); event = trainer.step(); monitor.after_step(net, event["step"])
    evaluation.update(net, count=256, step=event["step"])    # every few steps, never a whole pass
"""
