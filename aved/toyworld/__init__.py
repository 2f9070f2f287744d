"""A synthetic audio-visual world with ground truth: objects that bounce and sound on impact, scorers, edit tasks.

Modules: `scene` (Scene, vocabularies, captions), `render` (trajectory, render), `scorers` (analytic
frame and sound scorers), `tasks` (EditTask, task_set).
"""
