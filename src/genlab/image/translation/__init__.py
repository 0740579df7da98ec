"""Unpaired image-to-image translation: CycleGAN (Zhu et al. 2017) and a demo with a known answer.

* model ``image/cyclegan`` (:mod:`.cyclegan`), task ``translation`` (:mod:`.task`);
* data: two image domains, loaded with the image loaders and never paired (:mod:`.data`);
* datasets ``builtin:strokes-thin`` and ``builtin:strokes-thick`` — MNIST digits eroded and dilated
  with a 3×3 square, from disjoint halves of ``builtin:mnist-5k`` — and the pair name
  ``builtin:mnist-strokes`` (:mod:`.strokes`);
* metrics ``psnr_truth`` and ``label_kept`` against the true thin → thick translation, with the
  identity and hand-made morphology baselines (:mod:`.evaluation`);
* pipeline ``image/translate``: ``genlab translate RUN in.png out.png --direction a2b`` (:mod:`.pipelines`).
"""

from genlab.image.translation import (  # noqa: F401  (registers the datasets, model, task, metrics and pipeline)
    cyclegan,
    evaluation,
    pipelines,
    strokes,
    task,
)
