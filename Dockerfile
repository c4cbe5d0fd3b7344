# lm_reward_learning on ROS 2 Jazzy: the ROS-free core (pip), the ROS 2 workspace (colcon), and by
# default a training session on the bundled expert video:
#
#   docker build -t lm_reward_learning .
#   docker run --rm -v "$PWD/runs:/opt/lm_reward_learning/runs" lm_reward_learning
#   docker run --rm -it lm_reward_learning ros2 launch lm_reward_learning learn.launch.py robot:=g1 rviz:=false
#   docker run --rm -it lm_reward_learning ros2 launch lm_reward_learning deploy.launch.py sim:=true
#
# RViz needs a display: run with X forwarding (-e DISPLAY -v /tmp/.X11-unix:/tmp/.X11-unix) and rviz:=true,
# or record and view elsewhere (ros2 launch lm_reward_learning view.launch.py bag:=<run>/rollout_bag).
# Follows the official images' conventions: the ros:<distro>-ros-base base, rosdep for the ROS
# dependencies, colcon for the workspace, and the workspace sourced as an overlay by /ros_entrypoint.sh.

ARG ROS_DISTRO=jazzy
FROM ros:${ROS_DISTRO}-ros-base

ARG TORCH_VERSION=2.13.0
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_BREAK_SYSTEM_PACKAGES=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    MUJOCO_GL=egl \
    LMRL_HOME=/opt/lm_reward_learning

# Build tools, offscreen rendering (EGL/Mesa) for MuJoCo, video encoding.
RUN apt-get update && apt-get install -y --no-install-recommends \
        python3-pip python3-colcon-common-extensions \
        libegl1 libegl-mesa0 libgl1-mesa-dri libgl1 libglib2.0-0 ffmpeg \
    && rm -rf /var/lib/apt/lists/*

WORKDIR ${LMRL_HOME}

# The core and its Python dependencies. torch is pinned to the CPU build (the default PyPI wheel pulls
# CUDA); numpy stays 1.x because the ROS Jazzy message libraries are compiled against Ubuntu's numpy 1.26.
COPY pyproject.toml README.md ./
COPY src ./src
COPY config ./config
# The shipped policies: deploy.launch.py's default policy (policies/go2/flat_walk) is relative to this directory.
COPY policies ./policies
RUN pip3 install --extra-index-url https://download.pytorch.org/whl/cpu \
        "torch==${TORCH_VERSION}" "numpy<2" "rosbags>=0.10" . \
    && python3 -c "import lm_reward_learning, torch, mujoco; print('core ok, torch', torch.__version__)"

# The ROS 2 workspace: interfaces (ament_cmake) and the nodes, launch files and config (ament_python,
# which installs the core from src/ and launch/ and config/ from the repository's top level).
COPY launch ./launch
COPY ros2_ws/src ./ros2_ws/src
RUN apt-get update \
    && rosdep update --rosdistro "${ROS_DISTRO}" \
    && rosdep install --from-paths ros2_ws/src --ignore-src --rosdistro "${ROS_DISTRO}" -y \
    && rm -rf /var/lib/apt/lists/*
RUN . "/opt/ros/${ROS_DISTRO}/setup.sh" \
    && cd ros2_ws \
    && colcon build --cmake-args -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
    && rm -rf build log

# Source the workspace in every shell and in the entrypoint (the official overlay pattern).
RUN sed --in-place --expression \
        '$isource "$LMRL_HOME/ros2_ws/install/setup.bash"' /ros_entrypoint.sh \
    && echo 'source "$LMRL_HOME/ros2_ws/install/setup.bash"' >> /root/.bashrc

# Runs land in $LMRL_HOME/runs (mount a volume there to keep them).
# an empty video argument means the bundled Muybridge clip, with its x3 speed correction
CMD ["bash", "-c", "exec ros2 launch lm_reward_learning learn.launch.py robot:=go2 rviz:=false"]
