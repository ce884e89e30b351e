"""mediapipe's own TFLite inference (InferenceCalculator with its custom-op resolver, XNNPACK, as
FaceLandmarkCpu runs it) on a 192² crop, every output tensor returned: the reference for the torch
port of face_landmark_with_attention.tflite, whose custom ops the plain TFLite runtime lacks."""

from __future__ import annotations

import numpy as np

OUTPUTS = ("mesh", "lips", "left_eye", "right_eye", "left_iris", "right_iris", "flag")  # graph output order


def _graph_text(model_path: str) -> str:
    split = " ".join(f'output_stream: "t_{n}"' for n in OUTPUTS)
    ranges = " ".join(f"ranges {{ begin: {i} end: {i + 1} }}" for i in range(len(OUTPUTS)))
    floats = "\n".join(
        f'node {{ calculator: "TensorsToFloatsCalculator" input_stream: "TENSORS:t_{n}" output_stream: "FLOATS:f_{n}" }}\n'
        f'output_stream: "f_{n}"'
        for n in OUTPUTS
    )
    return f"""
input_stream: "image"
node {{ calculator: "ImageToTensorCalculator" input_stream: "IMAGE:image" output_stream: "TENSORS:input"
  options {{ [mediapipe.ImageToTensorCalculatorOptions.ext] {{ output_tensor_width: 192 output_tensor_height: 192
    output_tensor_float_range {{ min: 0.0 max: 1.0 }} }} }} }}
node {{ calculator: "TfLiteCustomOpResolverCalculator" output_side_packet: "OP_RESOLVER:op_resolver" }}
node {{ calculator: "InferenceCalculator" input_stream: "TENSORS:input" output_stream: "TENSORS:out"
  input_side_packet: "OP_RESOLVER:op_resolver"
  options {{ [mediapipe.InferenceCalculatorOptions.ext] {{ model_path: "{model_path}" delegate {{ xnnpack {{}} }} }} }} }}
node {{ calculator: "SplitTensorVectorCalculator" input_stream: "out" {split}
  options {{ [mediapipe.SplitVectorCalculatorOptions.ext] {{ {ranges} }} }} }}
{floats}
"""


class MediapipeInference:
    """run(crop (192, 192, 3) uint8) -> {output name: flat float32 array}."""

    def __init__(self, model_path: str) -> None:
        import mediapipe.python.solution_base  # noqa: F401  (registers the calculator option protos)
        from google.protobuf import text_format
        from mediapipe.framework import calculator_pb2
        from mediapipe.python._framework_bindings import calculator_graph

        config = text_format.Parse(_graph_text(model_path), calculator_pb2.CalculatorGraphConfig())
        self._graph = calculator_graph.CalculatorGraph(graph_config=config)
        self._got: dict[str, np.ndarray] = {}
        from mediapipe.python import packet_getter

        for name in OUTPUTS:
            self._graph.observe_output_stream(
                f"f_{name}",
                lambda stream, p: self._got.__setitem__(stream[2:], np.array(packet_getter.get_float_list(p))),
            )
        self._graph.start_run()
        self._t = 0

    def run(self, crop: np.ndarray) -> dict[str, np.ndarray]:
        from mediapipe.python import packet_creator
        from mediapipe.python._framework_bindings import image_frame

        self._got.clear()
        self._t += 1
        frame = packet_creator.create_image_frame(image_format=image_frame.ImageFormat.SRGB,
                                                  data=np.ascontiguousarray(crop))  # fmt: skip
        self._graph.add_packet_to_input_stream("image", frame.at(self._t))
        self._graph.wait_until_idle()
        return dict(self._got)

    def close(self) -> None:
        self._graph.close()
