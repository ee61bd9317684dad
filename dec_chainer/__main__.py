import sys

from dec_chainer.cli import main

sys.exit(main())
