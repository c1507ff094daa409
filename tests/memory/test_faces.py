import numpy as np
import pytest

from memory.faces import FaceStore


def test_faces_are_stored_listed_matched_by_model_and_forgotten(db):
    faces = FaceStore(db)
    a = faces.add("  Alice  Smith ", np.ones(4), model="dlib-128", source="alice.jpg")
    faces.add("Alice Smith", np.zeros(4), model="dlib-128")
    faces.add("Bob", np.full(4, 0.5), model="dlib-128")
    faces.add("Carol", np.ones(8), model="other-model")
    assert [(p.name, p.samples) for p in faces.people()] == [("Alice Smith", 2), ("Bob", 1), ("Carol", 1)]
    names, matrix = faces.embeddings("dlib-128")
    assert names == ["Alice Smith", "Alice Smith", "Bob"] and matrix.shape == (3, 4)
    assert matrix.dtype == np.float32 and np.allclose(matrix[0], 1)
    assert faces.delete(a) and not faces.delete(a)
    assert faces.forget("Alice Smith") == 1
    assert [p.name for p in faces.people()] == ["Bob", "Carol"]
    names, matrix = faces.embeddings("nobody's model")
    assert names == [] and matrix.shape[0] == 0


def test_a_face_needs_a_name(db):
    with pytest.raises(ValueError):
        FaceStore(db).add("   ", np.ones(4), model="m")
