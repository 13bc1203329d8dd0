"""`dals demo`: the README's main job, and the sample project it works on."""
