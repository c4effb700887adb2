"""The landmark reader's parts (ingestion/onet.py, irises.py, landmarks.py): ONet in
NumPy gives the TensorFlow model's outputs, the eyes are refined to the irises, and the
refinement is refused where no iris is there to see."""
import cv2
import numpy as np
import pytest

from mer_tfx.ingestion import irises, landmarks, onet


@pytest.fixture(scope="module")
def upright():
    """The portrait photo (gray uint8), its Haar box and hand-annotated eye centres."""
    from mer_tfx.synthetic.photo_faces import PHOTO_EYES, portrait

    photo, box = portrait()
    return photo.astype(np.uint8), box, np.array(PHOTO_EYES, np.float32)


def test_numpy_onet_gives_the_tensorflow_models_outputs(upright):
    import tensorflow as tf

    model = landmarks._detector().get_stage(stage_id=3)._model
    photo, (x, y, w, h), _ = upright
    face = landmarks._patch(photo, (x, y, x + w - 1, y + h - 1))
    noise = np.random.default_rng(0).uniform(-1, 1, (onet.PATCH, onet.PATCH)).astype(np.float32)
    scores = []
    for patch in (face, noise):
        expected = [np.asarray(t)[0] for t in model(tf.constant(np.repeat(
            patch[None, :, :, None], 3, axis=3)))]
        offsets, points, score = onet.onet(patch)
        assert np.abs(offsets - expected[0]).max() < 1e-4
        assert np.abs(points - expected[1]).max() < 1e-4
        assert score == pytest.approx(float(expected[2][1]), abs=1e-5)
        scores.append(score)
    assert scores[0] > landmarks.MIN_CONFIDENCE > scores[1]  # a face, and noise


def _eyes_image(centres, radius=4.0, side=120, seed=0):
    """Mid-grey skin with two dark discs (irises) on lighter sclera ellipses, and noise."""
    image = np.full((side, side), 150.0, np.float32)
    for cx, cy in centres:
        cv2.ellipse(image, (int(round(cx * 16)), int(round(cy * 16))),
                    (int(radius * 3.2 * 16), int(radius * 1.6 * 16)), 0, 0, 360, 215, -1,
                    cv2.LINE_AA, 4)
        cv2.circle(image, (int(round(cx * 16)), int(round(cy * 16))), int(radius * 16), 40,
                   -1, cv2.LINE_AA, 4)
    image += np.random.default_rng(seed).normal(0, 3, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def test_eyes_are_refined_to_the_iris_centres():
    truth = np.array([[40.25, 60.5], [83.75, 58.0]])  # 43.6 px apart, rolled -3.3 deg
    image = _eyes_image(truth)
    rough = truth + np.array([[1.5, -2.0], [-2.0, 2.5]])  # MTCNN-like: <0.08 of the distance
    found = irises.iris_centres(image, rough)
    assert np.abs(found - truth).max() < 0.35
    assert abs(landmarks.eye_roll_degrees(found) - landmarks.eye_roll_degrees(truth)) < 0.5
    assert abs(landmarks.eye_roll_degrees(rough) - landmarks.eye_roll_degrees(truth)) > 5.0


def test_the_refinement_is_refused_where_no_iris_is_there():
    truth = np.array([[40.0, 60.0], [84.0, 60.0]])
    plain = np.full((120, 120), 150, np.uint8)
    plain[:, :] += np.random.default_rng(1).integers(0, 3, plain.shape, dtype=np.uint8)
    assert irises.iris_centres(plain, truth) is None  # no blob: a peak on a window edge
    one_eye = _eyes_image(truth[:1])
    assert irises.iris_centres(one_eye, truth) is None  # one eye closed or covered
    assert irises.iris_centres(_eyes_image(truth), truth[:, ::-1] * 0.05) is None  # 2 px apart


def test_found_landmarks_carry_the_iris_centres(upright):
    photo, box, truth = upright
    points = landmarks.find_landmarks(photo, box)
    mtcnn, _ = landmarks.refine_on_box(photo, box)
    distance = np.hypot(*(truth[1] - truth[0]))
    error = np.linalg.norm(points[:2] - truth, axis=1).max()
    # within 3.5% of the eye distance (the annotation is +-1 px of 83); MTCNN's: ~5%
    assert error < 0.035 * distance < np.linalg.norm(mtcnn[:2] - truth, axis=1).max()
    roll = landmarks.eye_roll_degrees(truth)
    assert abs(landmarks.eye_roll_degrees(points) - roll) < 1.0
    assert abs(landmarks.eye_roll_degrees(mtcnn) - roll) > 1.0
    assert points[2, 1] > points[0, 1] and points[3, 1] > points[2, 1]  # nose, mouth below
