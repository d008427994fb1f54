"""The names of the alignment contract, shared by every artefact that records which one it used.

Facesets, models and the engine compare these to refuse data made under another contract. The
geometry itself (template points, face-type padding, Umeyama alignment) lives in engine/face/.
"""

# Bump when the alignment function or the face-type geometry changes meaning.
CONTRACT_VERSION = 1
# Identifies engine/face/template.py's points: change it whenever any of them changes.
TEMPLATE_ID = "mp478-sym-v1"
# MediaPipe FaceMesh with iris refinement.
N_LANDMARKS = 478
