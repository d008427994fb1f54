"""Objective quality of a converted video (`swapstream eval`).

identity: an independent judge (dlib's face recognition ResNet) says whose face each swapped
frame shows; expression: mouth/eye opening and head pose follow the driving video; stability:
frame-to-frame change of the face region; background: pixels outside the face left untouched.
Only `engine.face`, OpenCV, NumPy and PyAV are needed; dlib is optional and imported lazily.
"""
