"""The demo's words: header, "How it works", what each modality contributes, and the citation."""

from __future__ import annotations

from sensorium.modalities import MODALITIES

PAPER_URL = "https://arxiv.org/abs/2110.06443"

TITLE = "Sensorium · image translation from what vision models see"

HEADER = f"""
<div id="sensorium-header">
  <h1>Sensorium</h1>
  <p class="tagline">Repaint a photo in the style of another image, steered by what off-the-shelf
  vision models <em>see</em> in it: faces, body pose, depth, edges.</p>
  <p class="links">ICCV 2021 · <a href="{PAPER_URL}" target="_blank" rel="noopener">paper</a> ·
  pick a content and a style image, then tick the senses to use.</p>
</div>
"""


# What each conditioning slot gives the generator (shown next to its checkbox and in the table).
def contributes(modality: str) -> str:
    """What a sense pins down in the output, in a line (from its Modality spec)."""
    spec = MODALITIES.get(modality)
    return spec.contributes if spec else ""


HOW_IT_WORKS = """
**Content** is not the pixels of the content image but what a set of off-the-shelf *senses*
extract from it: maps of depth, face regions, the face's 3-D shape, the person's silhouette, the
body skeleton, facial landmarks and edges. **Style** is a single vector that a style encoder
computes from the style image: colours, textures, brush strokes, with no layout at all.

The generator is a SPADE network: the stacked maps modulate every layer *spatially* (where things
go), while the style vector modulates its convolution weights (how things look, with StyleGAN2's
weight demodulation). A small fusion network mixes the two at each scale.

Training randomly drops senses, so **any subset works**: untick a sense and the style fills the
freedom it leaves (the paper's "null space"); lower its strength to loosen its grip. Maps are
computed once per image and cached, so ticking, unticking and strengths only re-run the generator.
Under *Explore style* you can blend two style images, or sample new styles from the model.

**Where style is free** renders the content under 8 styles sampled from the model, in one batch,
and colours each pixel by how much those outputs disagree there. Bright regions are decided by the
style, dark ones are pinned by the ticked senses, so unticking a sense lights up what it held.

**What each sense adds** renders the content and style with each ticked sense alone, each left
out, all and none, as one batch on the cached maps. Reading a column (only *x* against all but
*x*) shows what that one sense contributes on its own and what the others cannot replace.

**Live webcam** sends camera frames through the senses and the style vector encoded once per
stream, with the maps smoothed over frames as for videos (less flicker, a little lag). Each
stream has a time limit so one person cannot hold the model; the status line shows the frame rate.

**Your own maps**: pick *my map* on a sense's card to give the model your own map instead of the
detected one, uploaded or painted over the detected map under *Your own maps*. It is read back in
the colours the maps gallery shows (grey levels, palettes, part colours, OpenPose skeletons), so
erasing an arm from the person mask changes the output mostly there.

**Sense settings** tune how the senses look: Canny's thresholds (or HED's learnt edges where its
weights are installed) and the resolution the senses run at. A change re-runs only the senses it
concerns, since their settings are part of the map cache's key.
"""

BIBTEX = """@inproceedings{nederhood2021harnessing,
  title     = {Harnessing the Conditioning Sensorium for Improved Image Translation},
  author    = {Nederhood, Cooper and Kolkin, Nicholas and Fu, Deqing and Salavon, Jason},
  booktitle = {Proceedings of the IEEE/CVF International Conference on Computer Vision (ICCV)},
  year      = {2021}
}"""

CSS = """
#sensorium-header { text-align: center; margin: 0.4rem 0 0.2rem; }
#sensorium-header h1 { font-size: 2.2rem; font-weight: 700; margin: 0; letter-spacing: -0.02em; }
#sensorium-header .tagline { font-size: 1.05rem; margin: 0.35rem auto 0.1rem; max-width: 46rem; opacity: 0.85; }
#sensorium-header .links { font-size: 0.85rem; margin: 0; opacity: 0.65; }
.sense-card { gap: 0 !important; }
#content-examples .gallery-item .container, #content-examples .gallery-item img,
#style-examples .gallery-item .container, #style-examples .gallery-item img,
#style-b-examples .gallery-item .container, #style-b-examples .gallery-item img {
  width: 64px !important; height: 64px !important; object-fit: cover;
}
#status { font-size: 0.85rem; }
#sample-row { align-items: flex-end; }
#how td:first-child, #how td:nth-child(2) { white-space: nowrap; }
#status ul { margin-top: 0.2rem; }
#freedom-legend { display: flex; align-items: center; gap: 0.4rem; font-size: 0.75rem; opacity: 0.8; }
#freedom-legend .ramp { flex: 1; height: 0.6rem; border-radius: 0.3rem;
  background: linear-gradient(90deg, rgb(0,0,4), rgb(87,16,110), rgb(188,55,84), rgb(249,142,9), rgb(252,255,164)); }
#freedom-help, #freedom-status, #live-status { font-size: 0.85rem; }
footer { margin-top: 0.5rem; }
"""
