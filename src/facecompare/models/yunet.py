"""YuNet face detection with 5 landmarks (OpenCV Zoo ``face_detection_yunet_2023mar``), as one
small class over an onnxruntime session, with the same interface as :class:`models.scrfd.SCRFD`.

The decoding follows OpenCV's ``FaceDetectorYN`` (modules/objdetect/src/face_detect.cpp): per
stride 8, 16 and 32, one prior per cell; score √(cls · obj); box centre (cell + offset) · stride
and size exp(·) · stride; landmarks (cell + offset) · stride, in the order right eye, left eye,
nose tip, right and left mouth corners of the person, i.e. image-left eye first: the order of
the ArcFace template (align.py), which OpenCV's own ``FaceRecognizerSF.alignCrop`` also uses.

The file declares a fixed 640×640 input; the pack opens it in memory (models/rewrite.py,
``free_input_size``) so that the image runs at the size SCRFD would (longer side shrunk to the
requested size, never enlarged, padded to a multiple of 32 at the bottom and right: a letterbox,
not a stretch). Input: BGR in [0, 255], as OpenCV feeds it.
"""

from __future__ import annotations

import cv2
import numpy as np
import onnxruntime as ort

from ..detect import Face, cell_grid, kept_faces

_STRIDES = (8, 16, 32)


class YuNet:
    """``face_detection_yunet_2023mar*.onnx``."""

    def __init__(self, session: ort.InferenceSession, nms_threshold: float = 0.3) -> None:
        self.session = session
        self.input_name = session.get_inputs()[0].name
        dims = session.get_inputs()[0].shape[2:]
        # a fixed input (the file as shipped, no free_input_size rewrite): letterbox into it
        self.fixed = tuple(int(d) for d in dims) if all(isinstance(d, int) for d in dims) else None
        self.nms_threshold = nms_threshold

    def detect(self, img: np.ndarray, size: int = 640, threshold: float = 0.5) -> list[Face]:
        """Faces in a BGR image, best score first (``size``: longer side of the network input;
        images are shrunk to it, never enlarged)."""
        h0, w0 = img.shape[:2]
        if self.fixed is not None:
            size = min(size, *self.fixed)
        scale = min(1.0, size / max(h0, w0))
        nh, nw = max(1, round(h0 * scale)), max(1, round(w0 * scale))
        resized = img if scale == 1 else cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
        ph, pw = self.fixed or (-(-nh // 32) * 32, -(-nw // 32) * 32)
        padded = cv2.copyMakeBorder(resized, 0, ph - nh, 0, pw - nw, cv2.BORDER_CONSTANT, value=0)
        blob = cv2.dnn.blobFromImage(padded, 1.0, (pw, ph), (0, 0, 0), False)
        outs = dict(
            zip(
                (o.name for o in self.session.get_outputs()),
                self.session.run(None, {self.input_name: blob}),
                strict=True,
            )
        )
        boxes, scores, kpss = [], [], []
        for stride in _STRIDES:
            cls = outs[f"cls_{stride}"][0, :, 0]
            obj = outs[f"obj_{stride}"][0, :, 0]
            score = np.sqrt(np.clip(cls, 0, 1) * np.clip(obj, 0, 1))
            keep = np.where(score >= threshold)[0]
            if keep.size == 0:
                continue
            cells = cell_grid(ph, pw, stride)[keep]
            bbox = outs[f"bbox_{stride}"][0][keep]
            kps = outs[f"kps_{stride}"][0][keep].reshape(-1, 5, 2)
            center = (cells + bbox[:, :2]) * stride
            half = np.exp(bbox[:, 2:]) * stride / 2
            boxes.append(np.hstack([center - half, center + half]))
            kpss.append((cells[:, None, :] + kps) * stride)
            scores.append(score[keep])
        return kept_faces(boxes, scores, kpss, scale, self.nms_threshold)
