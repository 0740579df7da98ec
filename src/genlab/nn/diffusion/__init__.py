"""Modality-free diffusion machinery: noise schedules, the flow path and the samplers.

Modules: ``schedules`` (β schedules, :class:`NoiseSchedule`, :class:`FlowPath`) and
``samplers`` (DDPM, DDIM, DPM-Solver++(2M), Euler, Heun and :func:`sample_loop`).
A modality's diffusion models (``genlab.image.diffusion``) build on them.
"""
