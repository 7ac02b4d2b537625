"""localize.faces: detections that are not faces of their own (HOG's second box on a face's
chin, an unsure hit on a collar beside a clear face) are dropped before anyone judges them;
real people beside the main face are kept."""
from __future__ import annotations

from localize.faces import Face, covered, plausible_faces


def test_covered_is_the_share_of_the_first_box_inside_the_second():
    assert covered((0, 0, 10, 10), (0, 0, 20, 20)) == 1.0
    assert covered((0, 0, 20, 20), (0, 0, 10, 10)) == 0.25
    assert covered((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert covered((5, 5, 5, 9), (0, 0, 10, 10)) == 0.0  # an empty box


def test_duplicates_and_unsure_stray_boxes_are_dropped():
    main = Face((80, 100, 270, 291), 2.4)
    chin = Face((128, 216, 260, 349), 0.01)  # confident, but 56 % of it lies inside the main face
    collar = Face((-8, 322, 51, 375), -0.15)  # unsure, beside a confident face
    assert plausible_faces([main, chin, collar]) == [main]
    # real people beside the main face stay (Trump's bystanders score 0.65-2.4)
    left, right = Face((74, 522, 218, 666), 1.67), Face((970, 554, 1114, 698), 0.65)
    assert plausible_faces([Face((546, 108, 754, 316), 2.5), left, right])[1:] == [left, right]


def test_a_frame_with_only_unsure_detections_keeps_them():
    """The permissive threshold exists so that a hard frame (profile, low light) still
    yields its face: with nothing confident in the frame, unsure faces are all kept."""
    a, b = Face((0, 0, 100, 100), -0.1), Face((300, 0, 380, 80), -0.19)
    assert plausible_faces([a, b]) == [a, b]
    assert plausible_faces([]) == []


def test_bystanders_of_a_real_clip_are_still_found(shared_data, face_analyzer):
    from localize.video import iter_frames

    (_, img), = list(iter_frames(shared_data / "people" / "donald_trump" / "video_1.mp4", [3]))
    faces = face_analyzer.detect(img)
    assert len(faces) == 3 and all(f.landmarks is not None for f in faces)


def test_the_second_detector_confirms_a_real_face_and_no_other_box(face_analyzer):
    """MMOD on a crop around a box: scikit-image's astronaut is confirmed, same-size boxes on her
    suit, the flag and the background are not, and a box too thin to crop gives 0."""
    from skimage import data

    img = data.astronaut()
    face, = face_analyzer.detect(img, landmarks=False)
    v = face_analyzer.verifier()
    assert v is face_analyzer.verifier()  # loaded once, kept with the analyzer
    assert v.confidence(img, face.box) > 0.9 > v.min_confidence
    side = face.box[2] - face.box[0]
    for x0, y0 in [(0, 0), (300, 350), (380, 0), (20, 300)]:
        assert v.confidence(img, (x0, y0, x0 + side, y0 + side)) < v.min_confidence
    assert v.confidence(img, (510, 510, 511, 512)) == 0.0


def test_a_strided_frame_gives_the_faces_of_its_contiguous_copy():
    """dlib's HOG misread arrays whose rows are padded (PyAV's frames of a width that is not a
    multiple of 16, 854x480 say): no face, or other faces from run to run, which once failed CI.
    The analyzer hands dlib a contiguous copy, so a strided view is detected like the image."""
    import numpy as np
    from skimage import data

    from localize.faces import FaceAnalyzer

    img = data.astronaut()
    h, w = img.shape[:2]
    buf = np.zeros((h, w + 8, 3), np.uint8)
    buf[:, :w] = img
    view = buf[:, :w]  # rows 8 px longer than the image: PyAV's padding
    assert not view.flags["C_CONTIGUOUS"]
    analyzer = FaceAnalyzer(detect_side=w)  # at its own size: no resized copy between
    want = [(f.box, f.score) for f in analyzer.detect(img)]
    assert len(want) == 1
    for _ in range(3):
        assert [(f.box, f.score) for f in analyzer.detect(view)] == want
    # the shape predictor is given the strided view itself (no copy of the frame per face): it reads it right
    assert np.array_equal(analyzer.landmarks(view, want[0][0]), analyzer.landmarks(img, want[0][0]))
